/// <reference types="vite/client" />
import type { LabelLoopApi } from '../shared/contract';

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

declare global {
  interface Window {
    /** Present in the Electron app (from the preload); absent in web mode. */
    api?: LabelLoopApi;
  }
}
