/**
 * A demo page: one per package, in src/pages/<package>.ts, exporting `page`.
 *
 * Conventions the browser test relies on:
 *   - `mount` builds everything inside `root` and resolves once the first result is drawn;
 *   - the page's main control carries `data-main-control` (an <input type="range">, <select> or <button>);
 *     changing it (input/change event, or click) must change what is drawn;
 *   - the main drawing carries `data-main-output` (a <canvas> or <svg> or a container of them);
 *   - nothing may log to console.error; long work yields to the event loop (await) so the page stays live.
 */
export interface DemoPage {
  /** URL hash and file name: 'precision', 'attention', ... */
  id: string;
  title: string;
  /** One sentence for the home page. */
  summary: string;
  /** Paper references shown under the title, e.g. 'Dao et al. 2022, 2023'. */
  references: string;
  mount(root: HTMLElement): Promise<void>;
  /** Stops timers and workers when the user navigates away. */
  unmount?(): void;
}
