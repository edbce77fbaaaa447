const s = 'y'.repeat(65536)
for (;;) require('fs').writeSync(1, s)
