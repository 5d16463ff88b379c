export interface Scale {
  tickets: number;
  customers: number;
  agents: number;
}

/** Data-set sizes of the benchmark (`--scale`). */
export const SCALES = {
  /** For checking the benchmark itself (CI's smoke run), not for figures. */
  tiny: { tickets: 1_000, customers: 100, agents: 6 },
  small: { tickets: 10_000, customers: 1_000, agents: 20 },
  medium: { tickets: 100_000, customers: 10_000, agents: 60 },
  large: { tickets: 1_000_000, customers: 100_000, agents: 200 },
  /** For the scaling doc: seeded once (about ten times large's time and disk), then reused. */
  xlarge: { tickets: 10_000_000, customers: 1_000_000, agents: 2_000 },
} as const satisfies Record<string, Scale>;

export type ScaleName = keyof typeof SCALES;

/** Every seeded user has this password (one argon2 hash, reused). */
export const BENCH_PASSWORD = "bench-password-for-everyone";

export const customerEmail = (n: number) => `customer${n}@bench.test`;
