// Electron transport, renderer side: the only file that touches ipcRenderer. It exposes one narrow,
// frozen window.api with the same interface as the web-mode client.
import { contextBridge, ipcRenderer } from 'electron';
import type { Envelope, EventName, FaceImportSettings, FaceImportSummary, FacePredictSettings, ImportResult, LabelLoopApi, PredictionRow, RouteName, ThumbnailSize } from '../shared/contract';
import { eventNames, isRouteName, unwrap } from '../shared/contract';
import { createListenerRegistry } from '../shared/listeners';

const listeners = createListenerRegistry();
ipcRenderer.on('labelloop:event', (_event, name: string, payload: unknown) => listeners.dispatch(name, payload));

const api: LabelLoopApi = {
  host: 'electron',
  async call(route: RouteName, input: unknown) {
    if (!isRouteName(route)) throw new Error(`Unknown route ${String(route)}`);
    return unwrap((await ipcRenderer.invoke('labelloop:call', route, input)) as Envelope<never>);
  },
  on(event: EventName, listener: (payload: never) => void) {
    if (!eventNames.includes(event)) throw new Error(`Unknown event ${String(event)}`);
    return listeners.add(event, listener);
  },
  imageUrl(path: string, version: string, size: ThumbnailSize) {
    return `labelloop://image/?path=${encodeURIComponent(path)}&size=${size}&v=${encodeURIComponent(version)}`;
  },
  async importFile(className: string | null, name: string, data: ArrayBuffer) {
    return unwrap((await ipcRenderer.invoke('labelloop:import', className, name, new Uint8Array(data))) as Envelope<ImportResult>);
  },
  async importFaces(className: string | null, settings: FaceImportSettings, name: string, data: ArrayBuffer) {
    return unwrap((await ipcRenderer.invoke('labelloop:importFaces', className, settings, name, new Uint8Array(data))) as Envelope<FaceImportSummary>);
  },
  async predictFaces(sessionId: string, settings: FacePredictSettings, name: string, data: ArrayBuffer) {
    return unwrap((await ipcRenderer.invoke('labelloop:predictFaces', sessionId, settings, name, new Uint8Array(data))) as Envelope<PredictionRow[]>);
  },
  async predictFile(sessionId: string, name: string, data: ArrayBuffer) {
    return unwrap((await ipcRenderer.invoke('labelloop:predict', sessionId, name, new Uint8Array(data))) as Envelope<PredictionRow>);
  },
} as LabelLoopApi;

contextBridge.exposeInMainWorld('api', Object.freeze(api));
