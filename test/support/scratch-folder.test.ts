import { stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import {
  MEMORY_FILESYSTEM,
  makeScratchFolder,
  memoryFilesystemWithRoom,
  removeScratchFolder,
} from "./scratch-folder.ts";

describe("the run's scratch folder", () => {
  it("is every worker's temporary folder", async () => {
    const scratch = inject("scratchFolder");
    expect(tmpdir()).toBe(scratch);
    expect((await stat(scratch)).isDirectory()).toBe(true);
  });

  it("is in memory only on tmpfs with room: not on another filesystem, not where nothing is", async () => {
    // procfs on Linux; elsewhere no such folder.
    expect(await memoryFilesystemWithRoom("/proc")).toBe(false);
    expect(await memoryFilesystemWithRoom(path.join(tmpdir(), "no-such-folder"))).toBe(false);
  });

  it("is made in memory when the machine has room there, else in the system's temporary folder, open to all like /tmp", async () => {
    const inMemory = await memoryFilesystemWithRoom();
    const folder = await makeScratchFolder();
    try {
      expect(path.dirname(folder)).toBe(inMemory ? MEMORY_FILESYSTEM : tmpdir());
      expect((await stat(folder)).mode & 0o7777).toBe(0o1777);
    } finally {
      await removeScratchFolder(folder);
    }
    await expect(stat(folder)).rejects.toThrow(/ENOENT/);
  });
});
