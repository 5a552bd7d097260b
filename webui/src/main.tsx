import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './components/App';
import { JamContext } from './app/context';
import { createJam } from './app/jam';
import './styles.css';

const jam = createJam();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <JamContext.Provider value={jam}>
      <App />
    </JamContext.Provider>
  </StrictMode>,
);
