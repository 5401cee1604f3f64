// The API client is injected, not imported: the app provides window.api or the web client,
// and tests provide a fake.
import type { InjectionKey } from 'vue';
import { inject } from 'vue';
import type { LabelLoopApi } from '../../../shared/contract';

export const API_KEY: InjectionKey<LabelLoopApi> = Symbol('labelloop-api');

export function useApi(): LabelLoopApi {
  const api = inject(API_KEY);
  if (!api) throw new Error('No LabelLoop API client was provided to the app');
  return api;
}
