// Misbehaves on request: the first event's payload.mode says how.
import { util } from '@aws-appsync/utils'

export function onPublish(ctx) {
  const mode = ctx.events[0].payload.mode
  if (mode === 'throw') {
    return ctx.events[0].payload.missing.field
  }
  if (mode === 'loop') {
    while (true) {}
  }
  if (mode === 'refuse') {
    util.error('refused by the handler', 'ValidationError')
  }
  if (mode === 'not-an-array') {
    return { id: 'nothing' }
  }
  return ctx.events.map((event) => (event.payload.bad ? { ...event, error: 'bad event' } : event))
}
