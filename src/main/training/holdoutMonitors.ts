// The small CNN's inner holdout is not the val split, so its metrics are logged as `holdout_*`
// and the config's monitors (which say `val_…`, as everywhere else) are pointed at them.
import type { TrainingConfig } from '../../shared/contract';

/** A monitor as the small CNN watches it: on the holdout, or (without one) on the training metrics. */
export function holdoutMonitor(monitor: string, hasHoldout: boolean): string {
  return monitor.replace(/^val_/, hasHoldout ? 'holdout_' : '');
}

/** The config with every monitor pointed so. */
export function monitorsOnHoldout(config: TrainingConfig, hasHoldout: boolean): TrainingConfig {
  const to = (monitor: string) => holdoutMonitor(monitor, hasHoldout);
  return {
    ...config,
    checkpointMonitor: to(config.checkpointMonitor),
    earlyStopping: config.earlyStopping && { ...config.earlyStopping, monitor: to(config.earlyStopping.monitor) },
    reduceLrOnPlateau: config.reduceLrOnPlateau && { ...config.reduceLrOnPlateau, monitor: to(config.reduceLrOnPlateau.monitor) },
  };
}
