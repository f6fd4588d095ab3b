// Preloaded into an `outlast` process (NODE_OPTIONS=--import) by the bad-input corpus: the file
// named by OUTLAST_TEST_CHANGE_ON_READ is appended to right after the process's first read of it,
// as a build still writing the file would, so the scan sees a file that changes while it is read.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const target = process.env.OUTLAST_TEST_CHANGE_ON_READ;
if (target) {
  const paths = new Map();
  let changed = false;
  const open = fs.open;
  fs.open = function (path, ...rest) {
    const callback = rest.pop();
    return open.call(this, path, ...rest, (error, fd) => {
      if (!error) paths.set(fd, String(path));
      callback(error, fd);
    });
  };
  const read = fs.read;
  fs.read = function (fd, ...rest) {
    const callback = rest.pop();
    return read.call(this, fd, ...rest, (error, bytes, buffer) => {
      if (!changed && !error && bytes > 0 && paths.get(fd)?.endsWith(target)) {
        changed = true;
        fs.appendFileSync(paths.get(fd), 'still being written\n');
      }
      callback(error, bytes, buffer);
    });
  };
  syncBuiltinESMExports();
}
