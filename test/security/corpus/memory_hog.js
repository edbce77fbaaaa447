const a = []
for (;;) a.push(new Array(1 << 16).fill(1.5))
