const fs = require('fs')
const buf = Buffer.alloc(4096)
let total = 0
for (let eofs = 0; eofs < 1000;) { const n = fs.readSync(0, buf); if (n === 0) eofs++; else total += n }
console.log(`eof after ${total} bytes`)
