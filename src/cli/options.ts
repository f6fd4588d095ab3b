/**
 * The options every command takes (`outlast --config FILE --verbose …`), in a module of their own
 * so that the commands need not import the CLI's entry (main.ts imports them, lazily).
 */
export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
  debug?: boolean;
}
