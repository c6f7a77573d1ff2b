#include "sink/dgram.h"

size_t sink_dgram_max_packet(const struct config_sink *cfg, size_t default_max, size_t limit)
{
	size_t max_packet = cfg->max_packet ? cfg->max_packet : default_max;
	return max_packet > limit ? limit : max_packet;
}

void sink_dgram_init(struct sink_dgram *d, struct sink_core *core, const struct sink_transport_ops *ops,
		     const struct sink_dgram_hooks *hooks, size_t max_packet)
{
	d->base.ops = ops;
	d->base.core = core;
	d->hooks = hooks;
	d->max_packet = max_packet;
	d->rng = sink_rng_seed(d);
	uv_timer_init(core->loop, &d->timer);
	d->timer.data = d;
	d->open_handles++;
}

size_t sink_dgram_max_line(const struct sink_transport *base) { return ((const struct sink_dgram *)base)->max_packet; }

void sink_dgram_maybe_free(struct sink_dgram *d)
{
	if (!d->finishing || d->open_handles > 0 || (d->hooks->busy != NULL && d->hooks->busy(d)))
		return;
	struct sink_core *core = d->base.core;
	bool orphan = d->orphan;
	d->hooks->release(d);
	if (!orphan)
		sink_transport_closed(core);
}

void sink_dgram_handle_closed(struct sink_dgram *d)
{
	d->open_handles--;
	sink_dgram_maybe_free(d);
}

static void timer_closed(uv_handle_t *handle) { sink_dgram_handle_closed(handle->data); }

void sink_dgram_finish(struct sink_dgram *d)
{
	if (d->finishing) {
		sink_dgram_maybe_free(d);
		return;
	}
	d->finishing = true;
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, timer_closed);
	d->hooks->end(d);
	sink_dgram_maybe_free(d);
}

static void close_deadline(uv_timer_t *timer) { sink_dgram_finish(timer->data); }

void sink_dgram_finish_at_deadline(struct sink_dgram *d)
{
	uv_update_time(d->base.core->loop);
	uv_timer_start(&d->timer, close_deadline, sink_close_wait_ms(d->base.core->cfg), 0);
}
