import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { API_KEY } from './api/inject';
import { createWebClient } from './api/webClient';
import './styles.css';

// The Electron preload provides window.api; in a browser we talk to the web-mode server.
const api = window.api ?? createWebClient();
createApp(App).provide(API_KEY, api).use(createPinia()).mount('#app');
