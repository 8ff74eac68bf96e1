import type { Server } from 'node:net';
import { DeviceUnavailableError } from './errors';

/**
 * Starts listening and turns the usual failures into an error that names the setting to change.
 */
export function listen(server: Server, host: string, port: number, field: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why =
        err.code === 'EADDRINUSE'
          ? `${host}:${port} is already in use by another program; stop it or choose another port with ${field}`
          : err.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this machine; fix ${field.replace(/port$/, 'host')}`
            : err.code === 'EACCES'
              ? `not allowed to bind ${host}:${port}; choose a port above 1023 with ${field}`
              : `cannot listen on ${host}:${port}: ${err.message}`;
      reject(new DeviceUnavailableError(field, why, { cause: err }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
