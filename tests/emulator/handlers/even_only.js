// Broadcasts only the harness's traced events with an even sequence number.
export function onPublish(ctx) {
  return ctx.events.filter((event) => event.payload.seq % 2 === 0)
}
