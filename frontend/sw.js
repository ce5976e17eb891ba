// The download service worker: it turns decrypted parts, which the page sends over
// a MessagePort, into a download the browser writes to disk as the bytes arrive, so
// that no file has to fit in memory.
//
// The page registers this script with the scope /download/, so the worker controls
// no page of the app and receives only the requests of downloads.
//
// Messages from the page:
//   on the worker:  { type: 'download', size, disposition } with one MessagePort,
//                   and { type: 'keepalive' } every few seconds while a download runs
//   on the port:    { type: 'chunk', buffer, length }, { type: 'end' },
//                   { type: 'abort', message }. A chunk is the first `length` bytes
//                   of `buffer`, or all of them when `length` is missing.
// Messages to the page, on the port:
//   { type: 'registered', url, takesLength: true }
//                                the one-time URL to open in a frame, and that
//                                chunks may carry a length
//   { type: 'started' }          the browser requested that URL
//   { type: 'pull' }             the browser wants the next chunk
//   { type: 'closed' }           the stream ended after the last chunk
//   { type: 'cancel' }           the browser cancelled the download

const DOWNLOAD_PATH = '/download/';

// A registered download that the browser never requests is dropped after this long.
const UNCLAIMED_LIFETIME_MS = 60_000;

/** Downloads that the page registered and the browser has not requested yet, by id. */
const unclaimed = new Map();

self.addEventListener('install', () => {
  // A new version takes over at once; the previous one serves no page to keep.
  self.skipWaiting();
});

self.addEventListener('message', (event) => {
  const message = event.data;
  // A keepalive needs no work: receiving the event resets the browser's idle timer,
  // so the worker is not stopped while a download streams.
  if (message?.type !== 'download' || event.ports.length !== 1) {
    return;
  }
  const port = event.ports[0];
  const size = Number(message.size);
  const disposition = String(message.disposition);
  if (!Number.isSafeInteger(size) || size < 0) {
    port.postMessage({ type: 'abort', message: `invalid download size ${message.size}` });
    return;
  }
  const id = crypto.randomUUID();
  const timer = setTimeout(() => unclaimed.delete(id), UNCLAIMED_LIFETIME_MS);
  unclaimed.set(id, { port, size, disposition, timer });
  port.onmessage = (portEvent) => {
    // The page gave up before the browser requested the download.
    if (portEvent.data?.type === 'abort') {
      clearTimeout(timer);
      unclaimed.delete(id);
      port.close();
    }
  };
  port.postMessage({ type: 'registered', url: `${DOWNLOAD_PATH}${id}`, takesLength: true });
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(DOWNLOAD_PATH)) {
    return;
  }
  const id = url.pathname.slice(DOWNLOAD_PATH.length);
  const download = unclaimed.get(id);
  if (download === undefined || event.request.method !== 'GET') {
    event.respondWith(
      new Response('This download is not available. Start it again from the page.', {
        status: 404,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      }),
    );
    return;
  }
  unclaimed.delete(id);
  clearTimeout(download.timer);
  event.respondWith(streamResponse(download));
});

/**
 * Returns the bytes of a chunk message: the first `length` bytes of its buffer, or
 * all of them without a length. Returns the reason as a string for a message that
 * has no buffer or a length outside it.
 */
function chunkBytes(message) {
  if (!(message.buffer instanceof ArrayBuffer)) {
    return 'a download chunk arrived without its bytes';
  }
  const length = message.length ?? message.buffer.byteLength;
  if (!Number.isSafeInteger(length) || length < 0 || length > message.buffer.byteLength) {
    return `invalid chunk length ${length} for a buffer of ${message.buffer.byteLength} bytes`;
  }
  return new Uint8Array(message.buffer, 0, length);
}

/** Returns the response whose body the page feeds, one chunk for each pull. */
function streamResponse({ port, size, disposition }) {
  let controller;
  // Resolves the pull in progress, once the page has responded to it.
  let answerPull = null;
  const finishPull = () => {
    const resolve = answerPull;
    answerPull = null;
    resolve?.();
  };

  port.onmessage = (event) => {
    const message = event.data;
    try {
      if (message?.type === 'chunk') {
        const bytes = chunkBytes(message);
        if (typeof bytes === 'string') {
          // A chunk the page did not mean would corrupt the file, so the download fails.
          controller.error(new Error(bytes));
          port.postMessage({ type: 'abort', message: bytes });
          port.close();
        } else {
          controller.enqueue(bytes);
        }
      } else if (message?.type === 'end') {
        controller.close();
        port.postMessage({ type: 'closed' });
        port.close();
      } else if (message?.type === 'abort') {
        // An errored body makes the browser mark the download failed and discard it.
        controller.error(new Error(String(message.message)));
        port.close();
      }
    } catch (error) {
      // The stream had ended already, or was cancelled and the page received the
      // cancel message.
      console.warn('download stream message ignored:', error);
    }
    finishPull();
  };

  const body = new ReadableStream(
    {
      start(streamController) {
        controller = streamController;
      },
      // The stream requests a chunk only when its queue is empty, so the worker keeps
      // at most one part and the page decrypts at the speed the disk takes them.
      pull() {
        return new Promise((resolve) => {
          answerPull = resolve;
          port.postMessage({ type: 'pull' });
        });
      },
      cancel() {
        port.postMessage({ type: 'cancel' });
        port.close();
        finishPull();
      },
    },
    { highWaterMark: 1 },
  );

  port.postMessage({ type: 'started' });
  return new Response(body, {
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(size),
      'Content-Disposition': disposition,
      'Content-Security-Policy': "sandbox; default-src 'none'",
      'X-Content-Type-Options': 'nosniff',
    },
  });
}
