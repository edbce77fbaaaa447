// A syntax error: `node --check` rejects it (the object literal is never closed).
const point = { x: 1, y: 2
console.log(point)
