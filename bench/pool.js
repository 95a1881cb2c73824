// Run job(i) for i in 0..count-1, at most `concurrency` at a time (the load generators' connect phase).
'use strict';

async function eachLimited(count, concurrency, job) {
  let next = 0;
  const workers = [];
  for (let w = 0; w < concurrency; w += 1) {
    workers.push((async () => {
      while (next < count) {
        const i = next++;
        await job(i);
      }
    })());
  }
  await Promise.all(workers);
}

module.exports = { eachLimited };
