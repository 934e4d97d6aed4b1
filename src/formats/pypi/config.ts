/** `[pypi]` section. */
import { z } from 'zod';

export const pypiSectionSchema = z.object({
  enabled: z.boolean().default(true),
});

export type PypiSection = z.infer<typeof pypiSectionSchema>;
