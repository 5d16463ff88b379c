import { chmod, mkdtemp, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Where one `npm test` keeps its files: the data directory of the suite's
 * PostgreSQL server, the servers some tests start of their own, and every
 * temporary folder the tests and the commands they start make (they all ask
 * `os.tmpdir()`, which follows TMPDIR).
 *
 * A memory-backed filesystem when the machine has one with room to spare.
 * On a disk, creating and removing files costs the kernel more than the
 * suite's own work: `create database` from the template (594 files, 13 MB)
 * took 0.3-0.55 s of system time on an ext4 disk mounted with `discard`, and
 * 13-34 ms on tmpfs (docs/test-suite.md). Everything here is thrown away
 * after the run, so the disk's durability buys nothing.
 */
export const MEMORY_FILESYSTEM = "/dev/shm";

/** statfs's type for tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;

/**
 * The whole suite's files peaked at about 0.5 GB (sampled each second). A
 * memory filesystem with less than this much free, such as a container's
 * 64 MB default, is left alone.
 */
const ROOM_NEEDED = 4 * 1024 ** 3;

/** Whether `folder` is on tmpfs with ROOM_NEEDED free. */
export async function memoryFilesystemWithRoom(folder = MEMORY_FILESYSTEM): Promise<boolean> {
  try {
    const stats = await statfs(folder);
    return stats.type === TMPFS_MAGIC && stats.bavail * stats.bsize >= ROOM_NEEDED;
  } catch {
    return false;
  }
}

/** A new folder for this run: in memory when possible, else under the system's temporary folder. */
export async function makeScratchFolder(): Promise<string> {
  const parent = (await memoryFilesystemWithRoom()) ? MEMORY_FILESYSTEM : tmpdir();
  const folder = await mkdtemp(path.join(parent, "ticketing-test-run-"));
  // Open to all like /tmp: as root the embedded servers run as the
  // `postgres` system user, which must reach their data directories here.
  await chmod(folder, 0o1777);
  return folder;
}

export async function removeScratchFolder(folder: string): Promise<void> {
  await rm(folder, { recursive: true, force: true });
}
