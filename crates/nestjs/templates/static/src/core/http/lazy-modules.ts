import { BadRequestException, Logger, type Type } from '@nestjs/common';
import { LazyModuleLoader, ModulesContainer } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';

/**
 * A table's module loaded on the first request to its routes rather than at boot (projects of
 * many tables: every module at boot is seconds and hundreds of MB). `app.module.ts` lists them
 * (`LAZY_MODULES`); nest-generator.toml's `[project] lazy_modules` decides which projects do.
 */
export interface LazyModule {
  /** Where the module's routes are (`orders`, `v1/orders`): every route below is its own. */
  readonly path: string;
  /** Imports the module's file (its one export is the module class). */
  readonly load: () => Promise<Record<string, unknown>>;
}

/** The methods the tables' controllers answer (OPTIONS stays with CORS). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown;

interface Route {
  /** The route's pattern (`/orders/:id`): what the access log names. */
  readonly path: string;
  readonly handler: Handler;
}

/** What of Nest's application this needs beyond its public API (checked when made). */
interface NestInternals {
  routesResolver?: {
    registerRouters(routes: Map<unknown, unknown>, moduleKey: string, globalPrefix: string, modulePath: string, adapter: object): void;
    getModulePathMetadata(metatype: Type<unknown>): string | undefined;
  };
  config?: { getGlobalPrefix(): string };
}

const patterns = new WeakMap<object, string>();

/** The pattern of the route a request went to (`/orders/:id`), lazily loaded or not. */
export function routeOf(request: FastifyRequest): string | undefined {
  const lazy = patterns.get(request);
  if (lazy !== undefined) return lazy;
  // The lazily loaded modules' catch-all is no route: what it took matched none of theirs.
  return (request.routeOptions.config as { lazyModules?: boolean } | undefined)?.lazyModules ? undefined : request.routeOptions.url;
}

interface State {
  readonly module: LazyModule;
  loaded?: boolean;
  loading?: Promise<void>;
}

/**
 * Serves the routes of `modules`: at boot one catch-all route (`/*`, below every other route)
 * is registered with Fastify; the first request to a module's path imports the module and lets
 * Nest build its controllers' handlers (with the app's guards, pipes, interceptors and filters,
 * exactly as at boot) into a router of the loaded modules' routes, where every request to them
 * then finds its handler. A request to no module's path gets the app's 404.
 */
export class LazyModules {
  private readonly log = new Logger('LazyModules');
  private readonly states: State[];
  /** By `path` (`orders`, `v1/orders`). */
  private readonly byPath = new Map<string, State>();
  private readonly router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
  /** The global prefix (`/api`), or ''. */
  private readonly prefix: string = '';

  /** `maxParamLength`: Fastify's (routerOptions), so a key too long is refused as there. */
  constructor(
    private readonly app: NestFastifyApplication,
    modules: readonly LazyModule[],
    maxParamLength: number,
  ) {
    // URLs the router cannot take answer as the app's Fastify answers them (frameworkErrors).
    this.router = FindMyWay({
      maxParamLength,
      onBadUrl: () => {
        throw new BadRequestException('the URL is not valid');
      },
      onMaxParamLength: () => {
        throw new BadRequestException(`a path segment is longer than ${maxParamLength} characters`);
      },
    });
    this.states = modules.map((module) => ({ module }));
    for (const state of this.states) this.byPath.set(state.module.path, state);
    if (modules.length === 0) return;
    const internals = app as unknown as NestInternals;
    if (typeof internals.routesResolver?.registerRouters !== 'function' || typeof internals.config?.getGlobalPrefix !== 'function') {
      throw new Error(
        'this version of @nestjs/core cannot register routes of lazily loaded modules; set lazy_modules = false under [project] in nest-generator.toml and regenerate',
      );
    }
    const prefix = internals.config.getGlobalPrefix().replace(/^\/+|\/+$/g, '');
    this.prefix = prefix ? `/${prefix}` : '';
    app
      .getHttpAdapter()
      .getInstance()
      .route({
        method: [...METHODS],
        url: `${this.prefix}/*`,
        config: { lazyModules: true },
        handler: (request, reply) => this.handle(request, reply),
      });
  }

  get size(): number {
    return this.states.length;
  }

  /** Load every module (the OpenAPI document describes them all; `LAZY_MODULES=false` at boot). */
  async loadAll(): Promise<void> {
    for (const state of this.states) await this.load(state);
  }

  private handle(request: FastifyRequest, reply: FastifyReply): unknown {
    const url = request.url;
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const found = this.router.find(request.method as Method, path);
    if (found) return this.dispatch(found, request, reply);
    const state = this.owner(path);
    if (!state || state.loaded) return reply.callNotFound();
    return this.load(state).then(() => {
      const now = this.router.find(request.method as Method, path);
      return now ? this.dispatch(now, request, reply) : reply.callNotFound();
    });
  }

  /** The module whose path `path` is below, if any (a module's path has a few segments). */
  private owner(path: string): State | undefined {
    if (!path.startsWith(`${this.prefix}/`)) return undefined;
    let at = this.prefix.length;
    for (let segments = 0; segments < 4 && at < path.length; segments++) {
      const end = path.indexOf('/', at + 1);
      const state = this.byPath.get(path.slice(this.prefix.length + 1, end < 0 ? path.length : end));
      if (state) return state;
      if (end < 0) return undefined;
      at = end;
    }
    return undefined;
  }

  private load(state: State): Promise<void> {
    if (state.loaded) return Promise.resolve();
    state.loading ??= this.build(state).then(
      () => {
        state.loaded = true;
      },
      (err: unknown) => {
        // Not remembered: the next request tries again (and logs again).
        state.loading = undefined;
        this.log.error(`the module of /${state.module.path} could not be loaded: ${err instanceof Error ? err.stack : String(err)}`);
        throw err;
      },
    );
    return state.loading;
  }

  private async build(state: State): Promise<void> {
    const exports = await state.module.load();
    const modules = Object.values(exports).filter(
      (v): v is Type<unknown> => typeof v === 'function' && Reflect.hasOwnMetadata('controllers', v),
    );
    if (modules.length !== 1) throw new Error(`the file of /${state.module.path} must export exactly one module class`);
    const [metatype] = modules;
    await this.app.get(LazyModuleLoader).load(() => metatype);
    const module = [...this.app.get(ModulesContainer).values()].find((m) => m.metatype === metatype);
    if (!module) throw new Error(`${metatype.name} was loaded but Nest does not hold it`);
    const internals = this.app as unknown as Required<NestInternals>;
    const own = `${this.prefix}/${state.module.path}`;
    // Collected first, added to the router only when every route is known and allowed.
    const routes = new Map<string, Route>();
    const on = (method: Method) => (path: string, handler: Handler) => {
      if (path !== own && !path.startsWith(`${own}/`)) {
        throw new Error(`${metatype.name} has a route ${method} ${path} outside ${own}: give it its own LazyModule in app.module.ts`);
      }
      routes.set(`${method} ${path}`, { path, handler });
    };
    const unsupported = (name: string) => () => {
      throw new Error(`${metatype.name} has a ${name} route, which a lazily loaded module cannot serve`);
    };
    const adapter = {
      get: on('GET'),
      head: on('HEAD'),
      post: on('POST'),
      put: on('PUT'),
      patch: on('PATCH'),
      delete: on('DELETE'),
      options: unsupported('OPTIONS'),
      all: unsupported('ALL'),
      search: unsupported('SEARCH'),
      use: unsupported('middleware'),
    };
    internals.routesResolver.registerRouters(
      module.controllers,
      module.token,
      this.prefix,
      internals.routesResolver.getModulePathMetadata(metatype) ?? '',
      adapter,
    );
    for (const [key, route] of routes) {
      const method = key.slice(0, key.indexOf(' ')) as Method;
      this.router.on(method, route.path, () => undefined, route);
      // As Fastify does for routes (exposeHeadRoutes): a GET answers HEAD too.
      if (method === 'GET' && !routes.has(`HEAD ${route.path}`)) this.router.on('HEAD', route.path, () => undefined, route);
    }
  }

  private dispatch(found: FindMyWay.FindResult<FindMyWay.HTTPVersion.V1>, request: FastifyRequest, reply: FastifyReply): unknown {
    // A URL the router refused (its handler throws the 400).
    if (found.store === null) return (found.handler as () => never)();
    const params = found.params;
    // As Nest asks of Fastify's router: an empty path parameter matches no route.
    for (const name in params) if (params[name] === '') return reply.callNotFound();
    const route = found.store as Route;
    (request as { params: unknown }).params = params;
    patterns.set(request, route.path);
    return route.handler(request, reply);
  }
}
