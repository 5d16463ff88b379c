import { Random } from "../../soak/random.ts";

/** A reproducible source of numbers in [0, 1): the soak's seeded generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}
