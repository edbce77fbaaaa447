const { Worker } = require('worker_threads')
for (;;) new Worker('setInterval(() => {}, 1000)', { eval: true, resourceLimits: { maxOldGenerationSizeMb: 4 } })
