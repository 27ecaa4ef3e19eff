/**
 * A gRPC client channel's connectivity, recorded: used by the typing
 * traffic (the soak reports how often its connection was recycled) and by
 * test/grpc-connection-age.test.ts (which requires that it was).
 */
import * as grpc from "@grpc/grpc-js";

export type ClientChannel = ReturnType<grpc.Client["getChannel"]>;

/** The channel's states as they change (starting to connect), until `signal` aborts; the array fills as they come. */
export function recordStates(channel: ClientChannel, signal: AbortSignal): grpc.connectivityState[] {
  const states = [channel.getConnectivityState(true)];
  const watch = () =>
    channel.watchConnectivityState(states.at(-1)!, Date.now() + 500, () => {
      if (signal.aborted) return; // the end of a run closes the channel: not a connection closing
      const now = channel.getConnectivityState(false);
      if (now !== states.at(-1)) states.push(now);
      watch();
    });
  watch();
  return states;
}

/** How often the channel's connection closed (READY -> IDLE: recycled by the server for its age, or dropped). */
export function connectionsClosed(states: readonly grpc.connectivityState[]): number {
  return states.filter((s, i) => s === grpc.connectivityState.IDLE && states[i - 1] === grpc.connectivityState.READY).length;
}
