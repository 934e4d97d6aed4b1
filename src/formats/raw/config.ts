/** `[raw]` section. */
import { z } from 'zod';

export const rawSectionSchema = z.object({
  enabled: z.boolean().default(true),
});

export type RawSection = z.infer<typeof rawSectionSchema>;
