// Runs once in every new runtime, before any transformation: removes what a
// transformation does not need and bounds the builtins that would build a
// large string or array in one native step (which no time limit can stop).
// It returns freezeAll, which the engine calls last: every builtin and the
// global object frozen, so that no run can leave anything for the next.
(function (g, maxArr, maxStr, joinedLength) {
	"use strict";
	for (const name of ["ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray",
		"Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array",
		"BigUint64Array", "Atomics", "WeakRef", "FinalizationRegistry"]) {
		delete g[name];
	}
	const RangeErr = RangeError, apply = Reflect.apply, define = Object.defineProperty, str = String;
	const len = (o) => {
		if (o == null) return 0;
		const n = Number(o.length);
		return n > 0 ? Math.floor(n) : 0;
	};
	const tooLong = (what, n, max) => {
		if (n > max) throw new RangeErr(what + ": more than " + max + (max === maxStr ? " characters" : " elements"));
	};
	const wrap = (proto, name, check) => {
		const f = proto[name];
		if (typeof f !== "function") return;
		const w = { [name](...args) { check(this, args); return apply(f, this, args); } }[name];
		define(proto, name, { value: w, writable: true, configurable: true, enumerable: false });
	};
	const flatSize = (a, depth, seen) => {
		let n = 0;
		const l = len(a);
		tooLong("flat", l, maxArr);
		for (let i = 0; i < l; i++) {
			const v = a[i];
			n += Array.isArray(v) && depth > 0 ? flatSize(v, depth - 1, seen) : 1;
			tooLong("flat", n, maxArr);
		}
		return n;
	};
	const AP = Array.prototype;
	for (const name of Object.getOwnPropertyNames(AP)) {
		if (name === "constructor" || typeof AP[name] !== "function") continue;
		wrap(AP, name, (self) => tooLong("Array.prototype." + name, len(self), maxArr));
	}
	wrap(AP, "join", (self, args) => {
		const l = len(self);
		tooLong("join", l, maxArr);
		const sep = args[0] === undefined ? 1 : str(args[0]).length;
		tooLong("join", (l > 0 ? (l - 1) * sep : 0) + joinedLength(self, l, maxStr), maxStr);
	});
	wrap(AP, "concat", (self, args) => {
		let n = len(self);
		for (const a of args) {
			n += Array.isArray(a) ? len(a) : 1;
			tooLong("concat", n, maxArr);
		}
	});
	wrap(AP, "flat", (self, args) => { flatSize(self, args[0] === undefined ? 1 : Math.min(Number(args[0]) || 0, 64)); });
	const from = Array.from;
	define(Array, "from", {
		value: function from_(items, ...rest) {
			if (items != null && typeof items[Symbol.iterator] !== "function") tooLong("Array.from", len(items), maxArr);
			return apply(from, this, [items, ...rest]);
		}, writable: true, configurable: true,
	});
	const SP = String.prototype;
	wrap(SP, "repeat", (self, args) => tooLong("repeat", str(self).length * Math.max(Number(args[0]) || 0, 0), maxStr));
	wrap(SP, "padStart", (self, args) => tooLong("padStart", Number(args[0]) || 0, maxStr));
	wrap(SP, "padEnd", (self, args) => tooLong("padEnd", Number(args[0]) || 0, maxStr));
	wrap(SP, "concat", (self, args) => {
		let n = str(self).length;
		tooLong("concat", args.length, maxArr);
		for (const a of args) { n += str(a).length; tooLong("concat", n, maxStr); }
	});
	for (const name of ["replace", "replaceAll"]) {
		const f = SP[name];
		define(SP, name, {
			value: { [name](pattern, replacement) {
				const s = str(this);
				if (typeof replacement === "function") {
					let n = s.length;
					const fn = replacement;
					replacement = (...a) => {
						const r = str(apply(fn, undefined, a));
						n += r.length;
						tooLong(name, n, maxStr);
						return r;
					};
				} else {
					replacement = str(replacement);
					tooLong(name, (s.length + 1) * replacement.length + s.length, maxStr);
				}
				return apply(f, s, [pattern, replacement]);
			} }[name], writable: true, configurable: true,
		});
	}
	const FP = Function.prototype, fapply = FP.apply;
	define(FP, "apply", {
		value: function apply_(thisArg, args) { tooLong("apply", len(args), maxArr); return apply(fapply, this, [thisArg, args]); },
		writable: true, configurable: true,
	});
	const rapply = Reflect.apply, rconstruct = Reflect.construct;
	define(Reflect, "apply", { value: (f, t, a) => { tooLong("Reflect.apply", len(a), maxArr); return rapply(f, t, a); }, writable: true, configurable: true });
	define(Reflect, "construct", { value: (f, a, n) => { tooLong("Reflect.construct", len(a), maxArr); return n === undefined ? rconstruct(f, a) : rconstruct(f, a, n); }, writable: true, configurable: true });
	const freeze = Object.freeze, ownKeys = Reflect.ownKeys, describe = Object.getOwnPropertyDescriptor, protoOf = Object.getPrototypeOf;
	return function freezeAll() {
		const seen = new Set();
		const todo = [g];
		while (todo.length > 0) {
			const o = todo.pop();
			if ((typeof o !== "object" && typeof o !== "function") || o === null || seen.has(o)) continue;
			seen.add(o);
			freeze(o);
			todo.push(protoOf(o));
			for (const k of ownKeys(o)) {
				const d = describe(o, k);
				if (d) todo.push(d.value, d.get, d.set);
			}
		}
	};
})
