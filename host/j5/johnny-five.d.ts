// Types for the part of johnny-five 2.x that picolink's tests, benchmark and example use (the package
// ships none, and @types/johnny-five is not a dependency). Only what is called here; every component
// is an EventEmitter, as in johnny-five.
declare module 'johnny-five' {
  import { EventEmitter } from 'node:events';

  interface BoardOption {
    io?: unknown;
    id?: string;
    repl?: boolean;
    debug?: boolean;
    sigint?: boolean;
    timeout?: number;
  }

  class Board extends EventEmitter {
    constructor(options?: BoardOption);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    io: any;
    isReady: boolean;
    samplingInterval(ms: number): this;
  }

  interface PinOption {
    pin?: number | string;
    board?: Board;
  }

  class Led extends EventEmitter {
    constructor(options: number | string | PinOption);
    on(): this;
    on(event: string | symbol, listener: (...args: unknown[]) => void): this;
    off(): this;
    toggle(): this;
    blink(ms?: number): this;
    stop(): this;
    brightness(value: number): this;
    readonly isOn: boolean;
  }

  class Button extends EventEmitter {
    constructor(options: number | string | (PinOption & { isPullup?: boolean; invert?: boolean; holdtime?: number }));
    readonly isDown: boolean;
  }

  class Sensor extends EventEmitter {
    constructor(options: number | string | (PinOption & { freq?: number; threshold?: number }));
    readonly value: number;
    disable(): this;
    enable(): this;
  }

  class Servo extends EventEmitter {
    constructor(options: number | string | (PinOption & { range?: [number, number]; pwmRange?: [number, number] }));
    to(degrees: number, ms?: number, rate?: number): this;
    readonly value: number;
  }

  const five: { Board: typeof Board; Led: typeof Led; Button: typeof Button; Sensor: typeof Sensor; Servo: typeof Servo };
  export default five;
  export { Board, BoardOption, Button, Led, Sensor, Servo };
}
