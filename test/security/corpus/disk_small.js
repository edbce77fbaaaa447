const fs = require('fs')
const buf = Buffer.alloc(4096)
for (let i = 0; ; i++) fs.writeFileSync(`/tmp/f${i}`, buf)
