require('child_process').spawn('/bin/sh', ['-c', "trap '' HUP TERM; while :; do sleep 1; done"], { detached: true, stdio: 'ignore' }).unref()
console.log('parent done')
