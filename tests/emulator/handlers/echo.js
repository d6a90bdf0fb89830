// Broadcasts what the handler saw of each publish, and logs each subscribe.
export const onPublish = (ctx) =>
  ctx.events.map((event) => ({
    id: event.id,
    payload: {
      original: event.payload,
      identity: ctx.identity,
      info: ctx.info,
      channel: ctx.channel,
      headers: Object.keys(ctx.request.headers).map((name) => name.toLowerCase()).sort(),
      autoId: util.autoId(),
      ulid: util.autoUlid(),
      now: util.time.nowEpochMilliSeconds(),
      base64: util.base64Decode(util.base64Encode('é&<>')),
    },
  }))

export function onSubscribe(ctx) {
  console.warn('subscribing to', ctx.info.channel.path, 'as', ctx.info.operation)
}
