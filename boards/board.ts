// What a board file declares: plain data that rollup, the size check and the CLI read. A board file
// exports `board` (this shape) and one `create()` that wires drivers to firmware. Variants are rows of
// data, not subclasses. Types only: nothing here reaches a bundle.

export interface BoardInfo {
  /** Bundle name: dist/<name>.js. */
  name: string;
  /** Human description: module and chip. */
  title: string;
  /** JsVars the interpreter has on this board (process.memory().total on a fresh board); 0 for the simulator. */
  jsvars: number;
  /** Largest bundle, in bytes, the size check accepts. */
  budgetBytes: number;
  /** Largest frame on the device network, bytes. */
  mtu: number;
  /** How this board reaches the device network. */
  radio: string;
  /** Roles its create() can take. */
  roles: string[];
  /** true: the bundle calls create() when it loads (flashed boards); false: the host calls it (simulator). */
  autostart: boolean;
  /**
   * Where the bundle runs: 'espruino' (the default when absent: an Espruino board or its Linux build;
   * the bundle must pass the Espruino language check), or 'deno' / 'node' for edge and host boards,
   * which run the same firmware under a full JavaScript runtime.
   */
  runtime?: 'espruino' | 'deno' | 'node';
  /**
   * Bundles beyond dist/<name>.js (which carries every role): each carries only `roles`, the build
   * dropping the others' code (rollup.config.js defines ROLE_<ROLE> true or false per bundle).
   */
  bundles?: RoleBundle[];
}

export interface RoleBundle {
  /** dist/<name>.js */
  name: string;
  /** Role flags kept (the board's create() tests ROLE_<ROLE> for each; others are false). */
  roles: string[];
  budgetBytes: number;
}
