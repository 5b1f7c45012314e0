// Assertions on a message's history (its Redis log): every version from 1 on appears exactly once, in
// order, and the transitions are the expected ones.
import { expect } from 'vitest';
import type { TransitionRecord } from '../../actors/message/message-view.ts';

/** `steps` are `[event, to]` pairs, one per version from 1. */
export function expectHistory(history: readonly TransitionRecord[], steps: ReadonlyArray<readonly [string, string]>): void {
  expect(history.map((h) => h.version)).toEqual(steps.map((_, i) => i + 1));
  expect(history.map((h) => [h.event, h.to])).toEqual(steps.map(([event, to]) => [event, to]));
  for (let i = 1; i < history.length; i++) expect(history[i]!.from).toBe(history[i - 1]!.to);
}

export const FULL_LIFECYCLE = [
  ['SUBMIT', 'pending'],
  ['ROUTE', 'approving'],
  ['APPROVE', 'processing'],
  ['PROCESSED', 'validated'],
  ['DELIVERED', 'distributed'],
] as const;
