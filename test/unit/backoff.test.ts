// Unit tests for the listener retry schedule: deterministic doubling from 500 ms capped at 60 s, and
// full jitter staying within [0, deterministic delay) when a random source is given.
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../actors/listeners/backoff.ts';

describe('backoffDelayMs', () => {
  it('doubles from 500 ms, attempt 1 being the first retry', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelayMs(a))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 32000]);
  });

  it('caps at 60 s, also for huge attempt numbers', () => {
    expect(backoffDelayMs(8)).toBe(60_000);
    expect(backoffDelayMs(50)).toBe(60_000);
    expect(backoffDelayMs(10_000)).toBe(60_000);
  });

  it('honours baseMs and maxMs', () => {
    expect(backoffDelayMs(1, { baseMs: 100 })).toBe(100);
    expect(backoffDelayMs(4, { baseMs: 100 })).toBe(800);
    expect(backoffDelayMs(4, { baseMs: 100, maxMs: 500 })).toBe(500);
    expect(backoffDelayMs(3, { maxMs: 0 })).toBe(0);
  });

  it('applies full jitter when random is given', () => {
    expect(backoffDelayMs(3, { random: () => 0 })).toBe(0);
    expect(backoffDelayMs(3, { random: () => 0.5 })).toBe(1000);
    expect(backoffDelayMs(3, { random: () => 0.999999 })).toBe(1999);
    expect(backoffDelayMs(20, { random: () => 0.5 })).toBe(30_000);
  });

  it('keeps a misbehaving random source within bounds', () => {
    expect(backoffDelayMs(2, { random: () => 7 })).toBe(1000);
    expect(backoffDelayMs(2, { random: () => -1 })).toBe(0);
    expect(backoffDelayMs(2, { random: () => Number.NaN })).toBe(0);
  });

  it('stays deterministic without random', () => {
    expect(backoffDelayMs(5)).toBe(backoffDelayMs(5));
  });

  it('refuses invalid input', () => {
    expect(() => backoffDelayMs(0)).toThrow(RangeError);
    expect(() => backoffDelayMs(-1)).toThrow(RangeError);
    expect(() => backoffDelayMs(1.5)).toThrow(RangeError);
    expect(() => backoffDelayMs(Number.NaN)).toThrow(RangeError);
    expect(() => backoffDelayMs(1, { baseMs: -1 })).toThrow(RangeError);
    expect(() => backoffDelayMs(1, { maxMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});
