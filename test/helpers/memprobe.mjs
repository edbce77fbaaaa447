// Preloaded into a node under test (NODE_OPTIONS="--expose-gc --import <this file>"):
// on SIGUSR2 it collects garbage (twice, a moment apart: V8 frees the
// memory behind dead buffers on a background thread) and prints one line to
// stderr: "memprobe rss=N heapUsed=N external=N" (bytes), so a test can tell
// memory the node keeps from memory it has not yet given back.
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  setTimeout(() => {
    globalThis.gc?.()
    const m = process.memoryUsage()
    process.stderr.write(`memprobe rss=${m.rss} heapUsed=${m.heapUsed} external=${m.external}\n`)
  }, 200)
})
