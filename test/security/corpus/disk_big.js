const fs = require('fs')
const fd = fs.openSync('big', 'w')
const buf = Buffer.alloc(65536)
for (;;) fs.writeSync(fd, buf)
