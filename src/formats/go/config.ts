/** `[go]` section. */
import { z } from 'zod';

export const goSectionSchema = z.object({
  enabled: z.boolean().default(true),
});

export type GoSection = z.infer<typeof goSectionSchema>;
