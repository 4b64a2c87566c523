// A minimal live DASH player for the demo page when dash.js is not installed
// (run `npm ci` in examples/livedemo for dash.js). It handles exactly what the
// origin serves: one Period, SegmentTemplate with $RepresentationID$ and
// $Number$ and @duration, one video and one audio AdaptationSet; it plays the
// lowest video bitrate, starting three segments behind the live edge.
window.edgekitMiniPlayer = function (video, mpdUrl, fail, started) {
  const base = mpdUrl.substring(0, mpdUrl.lastIndexOf('/') + 1);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function text(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(url + ': ' + r.status);
    return r.text();
  }
  async function bytes(url) {
    for (;;) {
      const r = await fetch(url);
      if (r.ok) return r.arrayBuffer();
      if (r.status !== 404) throw new Error(url + ': ' + r.status);
      await sleep(300);
    }
  }
  function append(sb, buf) {
    return new Promise((resolve, reject) => {
      sb.addEventListener('updateend', resolve, { once: true });
      sb.addEventListener('error', reject, { once: true });
      sb.appendBuffer(buf);
    });
  }
  async function main() {
    const doc = new DOMParser().parseFromString(await text(mpdUrl), 'application/xml');
    const ast = Date.parse(doc.documentElement.getAttribute('availabilityStartTime'));
    const tracks = [];
    for (const as of doc.getElementsByTagName('AdaptationSet')) {
      const reps = Array.from(as.getElementsByTagName('Representation'));
      reps.sort((a, b) => +a.getAttribute('bandwidth') - +b.getAttribute('bandwidth'));
      const rep = reps[0];
      const st = rep.getElementsByTagName('SegmentTemplate')[0];
      const mime = as.getAttribute('mimeType') || rep.getAttribute('mimeType');
      tracks.push({ id: rep.getAttribute('id'), type: mime + '; codecs="' + rep.getAttribute('codecs') + '"',
        dur: +st.getAttribute('duration') / +st.getAttribute('timescale'), start: +(st.getAttribute('startNumber') || 0) });
    }
    const ms = new MediaSource();
    video.src = URL.createObjectURL(ms);
    await new Promise((r) => ms.addEventListener('sourceopen', r, { once: true }));
    const first = Math.floor((Date.now() - ast) / 1000 / tracks[0].dur) - 3;
    let seeked = false;
    await Promise.all(tracks.map(async (t) => {
      const sb = ms.addSourceBuffer(t.type);
      await append(sb, await bytes(base + t.id + '/init.mp4'));
      for (let n = first; ; n++) {
        while (sb.buffered.length && sb.buffered.end(0) - video.currentTime > 12) await sleep(250);
        await append(sb, await bytes(base + t.id + '/' + (n + t.start) + '.m4s'));
        if (!seeked && t === tracks[0] && sb.buffered.length) {
          seeked = true;
          video.currentTime = sb.buffered.start(0) + 0.1;
          video.play().then(started, fail);
        }
        if (sb.buffered.length && video.currentTime - sb.buffered.start(0) > 30) {
          sb.remove(0, video.currentTime - 20);
          await new Promise((r) => sb.addEventListener('updateend', r, { once: true }));
        }
      }
    }));
  }
  main().catch(fail);
};
