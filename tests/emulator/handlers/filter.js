// Drops events whose payload has drop: true, adds a field to the others, and keeps
// subscribers out of /default/private/*.
import { util } from '@aws-appsync/utils'

export function onPublish(ctx) {
  return ctx.events
    .filter((event) => !event.payload.drop)
    .map((event) => ({ id: event.id, payload: { ...event.payload, checked: true } }))
}

export function onSubscribe(ctx) {
  if (ctx.info.channel.path.startsWith('/default/private/')) {
    util.unauthorized()
  }
}
