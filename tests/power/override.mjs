// A device's own power settings beat its profile's (docs/device-api.md §9), the mode and each
// timer separately: under a PSM profile (activity timer 1.5 s) a device without settings of its
// own is held after 2 s of silence, one with its own 30 s timer is not, one with its own mode
// DRX is not; under a DRX profile a device made PSM (1.5 s) with the `tern` CLI is held. The
// held ones get their change after their next uplink.
import {
    section, check, checkEq, done, sleeper, createDevice, createProfile, uniqueName, setShared, body, plain, sleep,
    describeAll,
    tern,
} from './lib/sleeper.mjs';

await section('device settings override the profile\'s: mode and timer', async () => {
    const psm = uniqueName('psm-profile'), drx = uniqueName('drx-profile');
    await createProfile({ name: psm, power: { mode: 'PSM', psmActivityTimer: 1500 } });
    await createProfile({ name: drx, power: { mode: 'DRX' } });
    const cases = [
        { what: 'PSM profile, nothing of its own', profile: psm, held: true },
        { what: 'PSM profile, own psmActivityTimer 30000', profile: psm, power: { psmActivityTimer: 30000 }, held: false },
        { what: 'PSM profile, own mode DRX', profile: psm, power: { mode: 'DRX' }, held: false },
        { what: 'DRX profile, made PSM 1500 ms by `tern device update`', profile: drx, cli: true, held: true },
    ];
    for (const c of cases) {
        c.d = await sleeper();
        Object.assign(c, await createDevice(uniqueName('ovr'), { profile: c.profile, ...(c.power ? { power: c.power } : {}) }));
        if (c.cli) {
            const r = tern('device', 'update', c.name, '--power-mode', 'PSM', '--psm-activity-timer', '1500ms');
            check(r.status === 0, `tern device update NAME --power-mode PSM --psm-activity-timer 1500ms`, 'exit 0', r.out);
        }
        c.ta = await c.d.observe(c.token, 'attributes');
        await c.d.uplink(c.token, { t: 1 });
        c.d.silent();
    }
    await sleep(2200);
    for (const c of cases) {
        c.m = c.d.mark();
        await setShared(c.name, { o: 1 });
    }
    await sleep(1500);
    for (const c of cases) {
        const got = c.d.since(c.m);
        if (c.held) check(got.length === 0, `${c.what}: held (nothing sent)`, 'nothing', describeAll(got));
        else check(got.length >= 1 && plain(body(got[0]))?.o === 1, `${c.what}: sent at once`, '{"o":1}', describeAll(got));
    }
    for (const c of cases.filter((x) => x.held)) {
        c.d.awake();
        await c.d.uplink(c.token, { t: 2 });
        const n = await c.d.next(c.ta, 3000);
        checkEq(plain(body(n)), { o: 1 }, `${c.what}: delivered after its uplink`);
    }
    cases.forEach((c) => c.d.close());
}, 40000);

done();
