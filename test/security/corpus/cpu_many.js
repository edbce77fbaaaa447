const { Worker } = require('worker_threads')
for (let i = 0; i < 4; i++) new Worker('let n = 0; for (;;) n++', { eval: true })
for (;;);
