setInterval(() => {}, 1 << 30)
