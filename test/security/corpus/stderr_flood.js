const s = '€ü'.repeat(20000)
for (;;) require('fs').writeSync(2, s)
