/** `[maven]` section. */
import { z } from 'zod';

export const mavenSectionSchema = z.object({
  enabled: z.boolean().default(true),
});

export type MavenSection = z.infer<typeof mavenSectionSchema>;
