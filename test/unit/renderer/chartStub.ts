// chart.js stands in here: happy-dom has no canvas, and the tests check what each chart is given.
import type { ChartConfiguration } from 'chart.js';

export const charts: Chart[] = [];

export class Chart {
  static register(): void {}
  data: ChartConfiguration['data'];
  updates = 0;
  destroyed = false;
  constructor(_canvas: unknown, readonly config: ChartConfiguration) {
    this.data = config.data;
    charts.push(this);
  }
  get options(): ChartConfiguration['options'] {
    return this.config.options;
  }
  update(): void {
    this.updates++;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** The legend labels of the chart's datasets, as drawn now. */
  labels(): string[] {
    return this.data.datasets.map((dataset) => String(dataset.label));
  }
}

const part = {};
export {
  part as BarController,
  part as BarElement,
  part as CategoryScale,
  part as Legend,
  part as LinearScale,
  part as LineController,
  part as LineElement,
  part as LogarithmicScale,
  part as PointElement,
  part as ScatterController,
  part as Tooltip,
};
