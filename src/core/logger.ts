/** The logging interface services depend on (pino satisfies it); keeps services framework-free. */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}
