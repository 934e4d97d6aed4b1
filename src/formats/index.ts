/** THE registration point of formats: one entry per format. */
import type { FormatModule } from './format.ts';
import { helmFormat } from './helm/index.ts';
import { mavenFormat } from './maven/index.ts';
import { npmFormat } from './npm/index.ts';
import { ociFormat } from './oci/index.ts';
import { pypiFormat } from './pypi/index.ts';
import { notYetBuilt } from './unavailable.ts';

export const FORMATS: readonly FormatModule[] = [
  ociFormat,
  npmFormat,
  pypiFormat,
  mavenFormat,
  notYetBuilt('cargo', '/cargo'),
  notYetBuilt('go', '/go'),
  notYetBuilt('raw', '/raw'),
  helmFormat,
];
