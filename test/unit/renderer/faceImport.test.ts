// @vitest-environment happy-dom
// "Import photos (faces)": photo by photo with the settings set, progress, Cancel keeping what is
// done, and the summary in the sidebar.
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { flushPromises, mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import FaceImport from '../../../src/renderer/src/components/FaceImport.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useFacesStore } from '../../../src/renderer/src/stores/faces';
import { useDatasetStore } from '../../../src/renderer/src/stores/dataset';
import { useNoticesStore } from '../../../src/renderer/src/stores/notices';
import { useLabelingStore } from '../../../src/renderer/src/stores/labeling';
import { emptySummary } from '../../../src/shared/faces';
import { FakeApi } from './fakeApi';

const photo = (name: string) => ({ name, data: async () => new ArrayBuffer(8) });

describe('face import in the window', () => {
  function setup(items: { path: string }[] = []) {
    const api = FakeApi.withItems(['NG', 'OK'], items);
    const app = createApp({});
    const pinia = createPinia();
    app.provide(API_KEY, api).use(pinia);
    setActivePinia(pinia);
    const stores = app.runWithContext(() => ({ faces: useFacesStore(), dataset: useDatasetStore(), notices: useNoticesStore(), labeling: useLabelingStore() }));
    return { api, pinia, ...stores };
  }

  it('sends each photo with the settings, adds up the summaries, and refreshes the grid', async () => {
    const { api, faces, dataset, notices: noticeStore } = setup();
    api.faceImports = {
      'a.jpg': { ...emptySummary(1), facesFound: 2, imported: ['OK/a__face1.jpg', 'OK/a__face2.jpg'] },
      'c.jpg': 'The disk is full',
    };
    faces.settings.margin = 0.4;
    await faces.importPhotos('OK', [photo('a.jpg'), photo('b.jpg'), photo('c.jpg')]);
    expect(api.faceCalls).toEqual(['a.jpg', 'b.jpg', 'c.jpg'].map((name) => ({ className: 'OK', settings: { minConfidence: 0.5, minSize: 32, margin: 0.4, align: false }, name })));
    expect(faces.lines).toEqual([
      '3 photo(s): 2 face(s) found, 2 crop(s) saved, 0 duplicate(s) skipped, 0 too small, 1 photo(s) without a face, 1 unreadable',
      'no face found: b.jpg',
      'unreadable: c.jpg: the import failed (see the message above)',
    ]);
    const notices = noticeStore.notices.map((n) => n.text);
    expect(notices).toEqual(expect.arrayContaining(['The disk is full', expect.stringMatching(/^3 photo\(s\): 2 face\(s\) found.* into OK$/)]));
    // The grid is reloaded once, after the last photo, from what the project holds: no folder scan.
    expect(api.calls.filter((c) => c.route === 'dataset.snapshot')).toHaveLength(1);
    expect(api.calls.filter((c) => c.route === 'dataset.scan')).toHaveLength(0);
    expect(dataset.classes).toEqual(['NG', 'OK']);
    expect(faces.running).toBe(false);
  });

  it('stops after the current photo when cancelled, keeping what was imported, and shows progress meanwhile', async () => {
    const { api, pinia, faces } = setup();
    let release: () => void = () => undefined;
    api.importFaces = async (className, settings, name) => {
      api.faceCalls.push({ className, settings, name });
      await new Promise<void>((resolve) => (release = resolve));
      return { ...emptySummary(1), facesFound: 1, imported: [`${name}__face1.jpg`] };
    };
    const wrapper = mount(FaceImport, { global: { plugins: [pinia], provide: { [API_KEY as symbol]: api } } });
    const running = faces.importPhotos(null, [photo('a.jpg'), photo('b.jpg'), photo('c.jpg')]);
    await flushPromises();
    expect(wrapper.get('[data-test=face-progress]').text()).toBe('Photo 1 of 3: a.jpg');
    await wrapper.get('[data-test=face-cancel]').trigger('click');
    release();
    await running;
    expect(api.faceCalls.map((c) => c.name)).toEqual(['a.jpg']);
    expect(faces.summary).toMatchObject({ photos: 1, imported: ['a.jpg__face1.jpg'], cancelled: true });
    await flushPromises();
    expect(wrapper.get('[data-test=face-summary]').text()).toMatch(/1 photo\(s\): 1 face\(s\) found, 1 crop\(s\) saved.*\(cancelled: what was done is kept\)/);
    expect(wrapper.find('[data-test=face-progress]').exists()).toBe(false);
    expect(wrapper.findAll('select[name=faceTarget] option').map((o) => o.text())).toEqual(['Unlabeled', 'NG', 'OK']);
  });

  it("keeps a photo's crops in the photo filter when one is labelled (main is asked again where they are now)", async () => {
    const { api, faces, dataset, labeling } = setup([{ path: 'party__face1.jpg' }, { path: 'party__face2.jpg' }, { path: 'other.jpg' }]);
    await dataset.refresh();
    api.facePhotoList = [{ sourceHash: 'a'.repeat(64), source: 'party.jpg', paths: ['party__face1.jpg', 'party__face2.jpg'] }];
    await faces.loadPhotos();
    labeling.setFilter(`photo:${'a'.repeat(64)}`);
    expect(labeling.visible.map((i) => i.path)).toEqual(['party__face1.jpg', 'party__face2.jpg']);
    // Main finds crops by content: after the move it lists the crop at its new path.
    api.facePhotoList = [{ sourceHash: 'a'.repeat(64), source: 'party.jpg', paths: ['NG/party__face1.jpg', 'party__face2.jpg'] }];
    await dataset.relabel(['party__face1.jpg'], 'NG');
    await flushPromises();
    expect(labeling.visible.map((i) => i.path)).toEqual(['NG/party__face1.jpg', 'party__face2.jpg']);
    expect(api.calls.filter((c) => c.route === 'faces.photos')).toHaveLength(2);
    // A move that touches no crop asks nothing.
    await dataset.relabel(['other.jpg'], 'OK');
    await flushPromises();
    expect(api.calls.filter((c) => c.route === 'faces.photos')).toHaveLength(2);
  });
});
