const fs = require('fs')
let n = 0
try { for (;;) { fs.openSync('/dev/null', 'r'); n++ } } catch (e) { console.log(`${n} fds, then ${e.code}`) }
