/** THE registration point of formats: one entry per format. */
import type { FormatModule } from './format.ts';
import { notYetBuilt } from './unavailable.ts';

export const FORMATS: readonly FormatModule[] = [
  notYetBuilt('docker', '/v2'),
  notYetBuilt('npm', '/npm'),
  notYetBuilt('pypi', '/simple'),
  notYetBuilt('maven', '/maven2'),
  notYetBuilt('cargo', '/cargo'),
  notYetBuilt('go', '/go'),
  notYetBuilt('raw', '/raw'),
];
