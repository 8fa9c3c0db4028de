/**
 * `flatten`: a shape-only layer type. Rates and errors are stored flat per batch row in channel-major order
 * (c·H·W + h·W + w), so flattening a map is the identity on the buffers in both directions (forward and error);
 * the spec resolver drops it after turning the shape into [C·H·W], and it adds no stage and no delay (as LE's
 * projection stage, which reads the flattened map directly). A dense layer after a conv layer flattens implicitly.
 */
import { z } from 'zod';

export const schema = z.object({ type: z.literal('flatten'), name: z.string().optional() }).strict();
export type FlattenSpec = z.output<typeof schema>;

/** The shape after flattening. */
export function resolveShape(inShape: number[]): number[] {
  return [inShape.reduce((a, b) => a * b, 1)];
}
