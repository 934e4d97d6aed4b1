/** `[cargo]` section. */
import { z } from 'zod';

export const cargoSectionSchema = z.object({
  enabled: z.boolean().default(true),
});

export type CargoSection = z.infer<typeof cargoSectionSchema>;
