/*
 * An Etsy statsd backend for the system test: each flush's counters and gauges as one JSON
 * line appended to config.jsonFile, so the guest script can sum what statsd received.
 * statsd's own counters (statsd.*) and counters that stayed 0 are left out.
 */
'use strict';
const fs = require('fs');

exports.init = function (startupTime, config, events) {
	const file = config.jsonFile;
	events.on('flush', function (timestamp, metrics) {
		const counters = {};
		for (const [name, value] of Object.entries(metrics.counters)) {
			if (value !== 0 && !name.startsWith('statsd.')) counters[name] = value;
		}
		const gauges = {};
		for (const [name, value] of Object.entries(metrics.gauges)) {
			if (!name.startsWith('statsd.')) gauges[name] = value;
		}
		fs.appendFileSync(file, JSON.stringify({ timestamp, counters, gauges }) + '\n');
	});
	return true;
};
